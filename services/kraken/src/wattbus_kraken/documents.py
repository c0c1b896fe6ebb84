"""The GraphQL documents the bridge sends, as the public clients send them.

A poll asks for several root fields in one document: one request instead of three, and
GraphQL answers each field on its own (a failing field comes back `null` with an error whose
`path` names it, and the others keep their data).
"""

from __future__ import annotations

from collections.abc import Sequence

# obtainKrakenToken takes an APIKey (Octopus), an email and password (EON Next) or a
# refreshToken (both); EON Next names the operation loginEmailAuthentication
OCTOPUS_TOKEN = """mutation obtainKrakenToken($input: ObtainJSONWebTokenInput!) {
  obtainKrakenToken(input: $input) { token refreshToken refreshExpiresIn }
}"""
EON_TOKEN = """mutation loginEmailAuthentication($input: ObtainJSONWebTokenInput!) {
  obtainKrakenToken(input: $input) { payload refreshExpiresIn refreshToken token }
}"""

DEVICES = "devices"
FLEX_PLANNED = "flexPlannedDispatches"
PLANNED = "plannedDispatches"  # the older query, before flexPlannedDispatches
COMPLETED = "completedDispatches"

SELECTIONS = {
    DEVICES: "devices(accountNumber: $accountNumber) { id deviceType status { currentState } }",
    FLEX_PLANNED: "flexPlannedDispatches(deviceId: $deviceId) { start end type energyAddedKwh }",
    PLANNED: "plannedDispatches(accountNumber: $accountNumber) "
    "{ start end delta meta { source location } }",
    COMPLETED: "completedDispatches(accountNumber: $accountNumber) "
    "{ start end delta meta { source location } }",
}


def dispatches_query(fields: Sequence[str]) -> str:
    """One query asking for `fields` (names from `SELECTIONS`), declaring the variables they
    use and no others (GraphQL refuses an unused variable)."""
    body = "\n  ".join(SELECTIONS[f] for f in fields)
    variables = []
    if set(fields) - {FLEX_PLANNED}:
        variables.append("$accountNumber: String!")
    if FLEX_PLANNED in fields:
        variables.append("$deviceId: String!")
    return f"query dispatches({', '.join(variables)}) {{\n  {body}\n}}"
