"""Result cache over Redis, keyed by the effective (authorized) semantic query."""
