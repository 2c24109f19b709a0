"""Operations: health checks, Prometheus metrics, the opt-in loop-lag monitor."""
