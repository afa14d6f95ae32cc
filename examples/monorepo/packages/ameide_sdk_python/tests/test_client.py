import unittest

from ameide_sdk import Client
from ameide_telemetry import Recorder


class ClientTest(unittest.TestCase):
    def test_organization_url_and_telemetry(self):
        client = Client("https://api.example.test/base/")
        self.assertEqual(
            client.organization_url("acme corp"),
            "https://api.example.test/base/v1/organizations/acme%20corp",
        )
        [event] = client.telemetry.events()
        self.assertEqual(event.render(), "organization_url org=acme corp service=ameide-sdk-python")

    def test_uses_given_recorder(self):
        recorder = Recorder("custom")
        Client("http://localhost:1", telemetry=recorder).organization_url("x")
        self.assertEqual([e.name for e in recorder.events()], ["organization_url"])

    def test_rejects_relative_base_url(self):
        with self.assertRaises(ValueError):
            Client("/relative")


if __name__ == "__main__":
    unittest.main()
