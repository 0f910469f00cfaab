# Reads a run directory's scalars with TensorBoard's own event reader (EventAccumulator, which
# also applies its purge of steps a restarted run redoes) and prints {tag: [[step, value], ...]};
# with `hparams` after the directory, the hparams plugin's session start info instead, as
# {"hparams": {name: value}, "tags": [...]}, parsed by the plugin's own protobuf classes.
import json
import sys

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

acc = EventAccumulator(sys.argv[1], size_guidance={'scalars': 0, 'tensors': 0})
acc.Reload()
if sys.argv[2:] == ['hparams']:
    from google.protobuf import json_format
    from tensorboard.plugins.hparams import metadata

    content = acc.PluginTagToContent(metadata.PLUGIN_NAME)
    infos = [metadata.parse_session_start_info_plugin_data(c) for t, c in content.items() if t == metadata.SESSION_START_INFO_TAG]
    print(json.dumps({'tags': sorted(content), 'hparams': {k: json_format.MessageToDict(v) for i in infos for k, v in i.hparams.items()}}))
else:
    print(json.dumps({tag: [[s.step, s.value] for s in acc.Scalars(tag)] for tag in acc.Tags()['scalars']}))
