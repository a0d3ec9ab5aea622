"""WebSocket routes: live progress of builds and analyses."""
