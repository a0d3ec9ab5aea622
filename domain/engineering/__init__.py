"""Engineering intelligence (seed 002): organizations, teams, repositories, developers and their activity."""
