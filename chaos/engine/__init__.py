"""The Docker side: engine, images, compose loading, a run's objects, run state, clean-up."""
