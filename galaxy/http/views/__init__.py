"""What the REST surfaces answer, as explicit types built field by field from rows.

A store row is the database's shape; a view is the API's (openapi.yaml). They
are kept apart so that a new column reaches the API only when a view names it,
and the contract test (tests/e2e/test_contract.py, with `additionalProperties:
false` on the closed schemas) catches one that leaks. One module per area;
`base` holds what they share.
"""
