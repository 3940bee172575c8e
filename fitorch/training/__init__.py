"""The training loops (trainer), the step functions, compile containers and the data path."""
