"""The sweep runner: Optuna HPO per (model, dataset), repeated seeds, resumable results store."""
