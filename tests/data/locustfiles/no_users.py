"""Helpers only: no User class."""

from locust import HttpUser


class Base(HttpUser):
    abstract = True
