# Reads a run directory's scalars with TensorBoard's own event reader (EventAccumulator, which
# also applies its purge of steps a restarted run redoes) and prints {tag: [[step, value], ...]}.
import json
import sys

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

acc = EventAccumulator(sys.argv[1], size_guidance={'scalars': 0})
acc.Reload()
print(json.dumps({tag: [[s.step, s.value] for s in acc.Scalars(tag)] for tag in acc.Tags()['scalars']}))
