"""What a run leaves for people and CI: text now; JSON schema, HTML, JUnit later."""
