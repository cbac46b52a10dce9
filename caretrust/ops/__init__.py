"""What operations need of every process: health checks, the request log, and answering
503 rather than 500 while the database is unavailable. No models, no people's data."""
