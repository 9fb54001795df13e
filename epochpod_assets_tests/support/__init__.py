"""Test support: real servers on loopback that stand in for paid or remote services."""
