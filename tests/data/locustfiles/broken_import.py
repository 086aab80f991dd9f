import no_such_module_of_theirs  # noqa: F401
from locust import HttpUser, task


class Visitor(HttpUser):
    @task
    def home(self) -> None:
        self.client.get("/")
