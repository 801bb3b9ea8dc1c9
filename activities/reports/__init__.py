"""Reports: one generator per report definition, the file writer and the run store."""
