"""Stand-in for a Berlin Group NextGenPSD2 1.3.9 ASPSP (consents, accounts, balances,
transactions), serving the ``examples`` of the spec itself.

The example account list has IBANs whose check digits are wrong; the stand-in derives
valid ones (same BBAN, recomputed check digits) and uses them everywhere. Consents are
approved at once, as in a bank's sandbox, unless ``approve_consents`` is False.
"""

from __future__ import annotations

import copy
import uuid
from datetime import date

from werkzeug.wrappers import Request, Response

from tests.standins.common import StandIn, json_response, problem


def fix_iban(iban: str) -> str:
    """The same IBAN with correct ISO 13616 check digits."""
    bban = iban[4:]
    rearranged = bban + iban[:2] + "00"
    number = int("".join(str(int(ch, 36)) for ch in rearranged))
    return f"{iban[:2]}{98 - number % 97:02d}{bban}"


class Psd2StandIn(StandIn):
    spec_file = "psd2/psd2-api-1.3.9.yaml"
    prefix = "/psd2"
    check_spec = False  # the published document repeats the Consent-ID parameter once

    def __init__(self, *args, approve_consents: bool = True, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.approve_consents = approve_consents
        self.consents: dict[str, dict] = {}
        examples = self.spec["components"]["examples"]
        accounts = copy.deepcopy(examples["accountListExample1"]["value"]["accounts"])
        for account in accounts:
            account["iban"] = fix_iban(account["iban"])
            account.pop("_links", None)
        self.accounts = accounts
        self.balances = examples["balancesExample1_RegularAccount"]["value"]["balances"]
        self.transactions = examples["transactionsExample1_RegularAccount_json"]["value"][
            "transactions"]

    def authenticate(self, request: Request) -> Response | None:
        path = request.path[len(self.prefix):]
        if path.startswith("/v1/consents"):
            return None
        consent = self.consents.get(request.headers.get("Consent-ID", ""))
        if consent is None:
            return json_response({"tppMessages": [{"category": "ERROR",
                                                   "code": "CONSENT_UNKNOWN"}]}, 403)
        if consent["validUntil"] < date.today().isoformat() or consent["status"] != "valid":
            return json_response({"tppMessages": [{"category": "ERROR",
                                                   "code": "CONSENT_EXPIRED"}]}, 401)
        return None

    def _account(self, resource_id: str, consent: dict) -> dict | None:
        for account in self.accounts:
            if account["resourceId"] == resource_id and account["iban"] in consent["ibans"]:
                return account
        return None

    def handle(self, request: Request) -> Response:
        path = request.path[len(self.prefix):]
        if path == "/v1/consents" and request.method == "POST":
            body = request.get_json()
            consent_id = uuid.uuid4().hex
            ibans = {a["iban"] for part in body["access"].values() if isinstance(part, list)
                     for a in part if "iban" in a}
            status = "valid" if self.approve_consents else "received"
            self.consents[consent_id] = {"validUntil": body["validUntil"], "status": status,
                                         "ibans": ibans,
                                         "frequencyPerDay": body["frequencyPerDay"]}
            return json_response({
                "consentStatus": status, "consentId": consent_id,
                "_links": {"scaRedirect": {"href": f"{self.base_url}/sca/{consent_id}"},
                           "status": {"href": f"/v1/consents/{consent_id}/status"}},
            }, 201)
        consent = self.consents[request.headers["Consent-ID"]]
        if path == "/v1/accounts":
            return json_response({"accounts": [a for a in self.accounts
                                               if a["iban"] in consent["ibans"]]})
        parts = path.strip("/").split("/")
        if len(parts) >= 3 and parts[:2] == ["v1", "accounts"]:
            account = self._account(parts[2], consent)
            if account is None:
                return problem(404, "RESOURCE_UNKNOWN")
            if parts[3:] == ["balances"]:
                return json_response({"account": {"iban": account["iban"]},
                                      "balances": self.balances})
            if parts[3:] == ["transactions"]:
                return json_response({"account": {"iban": account["iban"]},
                                      "transactions": {"booked": self.transactions["booked"]}})
        return problem(404, "RESOURCE_UNKNOWN")
