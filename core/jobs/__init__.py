"""The worker and what its jobs do: training, publishing, recovery, backups."""
