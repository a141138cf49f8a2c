"""Which audio belongs to whom: stereo channels map to roles; mono calls are diarised, then roles come from content."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qa.records import CallMeta, Role, SpeakerAssignment

_DUAL_MONO_CORRELATION = 0.98


@dataclass
class ChannelStream:
    channel: int
    role: Role
    samples: np.ndarray


def is_dual_mono(samples: np.ndarray) -> bool:
    """A 'stereo' file whose two channels carry the same mix (common for exported recordings)."""
    if samples.shape[0] < 2:
        return True
    left, right = samples[0], samples[1]
    if not left.any() and not right.any():
        return True
    corr = np.corrcoef(left, right)[0, 1]
    return bool(np.isfinite(corr) and corr > _DUAL_MONO_CORRELATION)


def channel_streams(samples: np.ndarray, meta: CallMeta, default_agent_channel: int) -> tuple[
    list[ChannelStream], list[SpeakerAssignment]
]:
    """Stereo: one stream per channel with its role (agent channel from the manifest, else the site default)."""
    agent_channel = meta.agent_channel if meta.agent_channel in (0, 1) else default_agent_channel
    source = "manifest" if meta.agent_channel in (0, 1) else "site default"
    streams, speakers = [], []
    for ch in (0, 1):
        role: Role = "agent" if ch == agent_channel else "customer"
        streams.append(ChannelStream(ch, role, samples[ch]))
        side = "left" if ch == 0 else "right"
        speakers.append(SpeakerAssignment(
            role=role, label=f"channel {ch}", method="channel", confidence=1.0,
            reason=f"{side} channel is the {role} ({source}: agent channel = {agent_channel})",
        ))
    return streams, speakers


def role_for_cluster(cluster: int, agent_cluster: int) -> Role:
    return "agent" if cluster == agent_cluster else "customer"
