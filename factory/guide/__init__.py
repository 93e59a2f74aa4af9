"""The closed loop: a trained model's errors steer which episodes the factory generates next."""
