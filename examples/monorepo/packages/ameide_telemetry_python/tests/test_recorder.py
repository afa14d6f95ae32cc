import unittest

from ameide_telemetry import Recorder


class RecorderTest(unittest.TestCase):
    def test_record_tags_service_and_copies_attributes(self):
        recorder = Recorder("orders")
        attrs = {"op": "list"}
        recorder.record("call", attrs)
        attrs["op"] = "mutated"
        [event] = recorder.events()
        self.assertEqual(event.render(), "call op=list service=orders")

    def test_events_is_a_snapshot(self):
        recorder = Recorder("s")
        recorder.record("a")
        snapshot = recorder.events()
        recorder.record("b")
        self.assertEqual(len(snapshot), 1)
        self.assertEqual(len(recorder.events()), 2)

    def test_empty_service_rejected(self):
        with self.assertRaises(ValueError):
            Recorder("")


if __name__ == "__main__":
    unittest.main()
