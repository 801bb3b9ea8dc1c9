"""Reports (custody-price-reports.md §4): the catalogue, report runs and the file formats."""
