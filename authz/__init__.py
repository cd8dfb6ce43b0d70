"""Access control: decides, on the semantic query, what a principal may read.

Filled in by the authorization issue; the seam it plugs into is
`schema.query.EffectiveQuery.restrict`.
"""
