"""Neural coding: the batch schedule, a group's lanes coded side by side, and the ensemble that mixes the model's predictions."""
