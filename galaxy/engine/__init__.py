"""The reference game engine (../shared/ENGINE.md): one process per game, over HTTP.

`model` holds the state and its JSON form, `rules` the formulas, `setup` the
new galaxy, `orders` and `commands` what players ask, `turn` the turn itself,
`reports` what each race sees, `store` the atomic state file, `server` the
HTTP surface. Nothing here imports the backend's services: the engine runs
alone, in its own container or subprocess.
"""
