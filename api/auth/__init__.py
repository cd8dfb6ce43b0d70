"""Authentication: a bearer credential (a JWT for embedded dashboards, an API token for partner
integrations) in, a `authz.principal.Principal` out, or an `AuthenticationError`."""
