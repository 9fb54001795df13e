"""What the voice is sent: the speech normalizer and the pronunciation lexicon."""
