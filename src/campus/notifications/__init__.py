"""Notifications (API.md §7): kept for the list, delivered live over the socket."""
