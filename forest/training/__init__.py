"""Training the forest: behaviour cloning (with DAgger) from the experts, and the router."""
