"""Content labels required by the Labelling Measures and GB 45438 (explicit text labels, media labels)."""
