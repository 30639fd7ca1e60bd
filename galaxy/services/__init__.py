"""Use-cases per area: rules + store + actors. Edges call these, never the store."""
