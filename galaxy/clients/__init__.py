"""Outgoing clients: SMTP, engine, containers, GeoIP, translator."""
