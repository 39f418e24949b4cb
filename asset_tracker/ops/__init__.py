"""Operations: proxy handling, start-up checks, JSON logs, Prometheus metrics, backups that restore."""
