"""Dashboard and portfolio reads: aggregate queries over the credit read models, latest report runs."""
