"""BTC price: Bitfinex adapter, price store, feed activities."""
