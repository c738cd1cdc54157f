"""HTTP routes, grouped by API family; each family keeps its documented error envelope."""
