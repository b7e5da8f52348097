"""The serving shim: export the day's serving tables into a local snapshot store, serve them over HTTP."""
