"""AWS availability zones -> regions.

An AZ ID ("use1-az2") names the same physical zone in every account; its prefix is the region's short
code: the country code, the initials of the direction words, the region number (us-east-1 -> use1,
ap-southeast-2 -> apse2, us-gov-west-1 -> usgw1). An AZ name ("us-east-1a", local zone
"us-west-2-lax-1a") starts with its region code.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

# Every public AWS region (commercial, GovCloud, China) by the short code its AZ IDs start with.
AZ_ID_PREFIXES: Mapping[str, str] = {
    "afs1": "af-south-1",
    "ape1": "ap-east-1",
    "ape2": "ap-east-2",
    "apne1": "ap-northeast-1",
    "apne2": "ap-northeast-2",
    "apne3": "ap-northeast-3",
    "aps1": "ap-south-1",
    "aps2": "ap-south-2",
    "apse1": "ap-southeast-1",
    "apse2": "ap-southeast-2",
    "apse3": "ap-southeast-3",
    "apse4": "ap-southeast-4",
    "apse5": "ap-southeast-5",
    "apse6": "ap-southeast-6",
    "apse7": "ap-southeast-7",
    "cac1": "ca-central-1",
    "caw1": "ca-west-1",
    "cnn1": "cn-north-1",
    "cnnw1": "cn-northwest-1",
    "euc1": "eu-central-1",
    "euc2": "eu-central-2",
    "eun1": "eu-north-1",
    "eus1": "eu-south-1",
    "eus2": "eu-south-2",
    "euw1": "eu-west-1",
    "euw2": "eu-west-2",
    "euw3": "eu-west-3",
    "ilc1": "il-central-1",
    "mec1": "me-central-1",
    "mes1": "me-south-1",
    "mxc1": "mx-central-1",
    "sae1": "sa-east-1",
    "use1": "us-east-1",
    "use2": "us-east-2",
    "usge1": "us-gov-east-1",
    "usgw1": "us-gov-west-1",
    "usw1": "us-west-1",
    "usw2": "us-west-2",
}

_AZ_NAME = re.compile(r"([a-z]{2}(?:-gov)?-[a-z]+-\d+)(?:-[a-z0-9-]+)?[a-z]?")
_AZ_ID = re.compile(r"([a-z]+\d+)-(?:[a-z]+\d+-)?az\d+")


def region_of_zone(zone: str) -> str | None:
    """ "euw3-az2" -> "eu-west-3"; "us-east-1a" -> "us-east-1"; "usw2-lax1-az1" -> "us-west-2"; else None."""
    zone = zone.strip().lower()
    match = _AZ_ID.fullmatch(zone)
    if match:
        return AZ_ID_PREFIXES.get(match.group(1))
    match = _AZ_NAME.fullmatch(zone)
    return match.group(1) if match else None


def currency_of_region(region: str) -> str:
    """Prices in the China regions are in CNY; everywhere else in USD."""
    return "CNY" if region.startswith("cn-") else "USD"
