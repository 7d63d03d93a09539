"""The CSMS's HTTP service: the driver-request API and page (FastAPI on uvicorn, in the
CSMS's own event loop). See docs/driver-requests.md."""
