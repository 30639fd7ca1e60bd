"""The HTTP edge: quart-trio on hypercorn's trio worker, plus middleware below Quart."""
