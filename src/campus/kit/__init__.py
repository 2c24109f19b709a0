"""Domain-free helpers: pagination and sorting, the UTC datetime column type, the clock."""
