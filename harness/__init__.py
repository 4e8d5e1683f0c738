"""What the tests and the benchmarks drive the system with: Azurite and local-host
processes on free ports (`processes.py`) and an SSE reader (`sse.py`)."""
