"""Code tables and name pools the generator draws from.

Systems and OIDs follow the captured sandbox payloads in ``epic-samples/`` (site root
``1.2.840.114350.1.13.0.1.7``: CID 0, environment 1). Clinical codes are real LOINC / SNOMED / ICD /
CVX / RxNorm / CPT codes; Epic-internal record ids (flowsheet rows, components, medication ids) are
invented but shaped like Epic's.
"""

from __future__ import annotations

from dataclasses import dataclass

SITE = "urn:oid:1.2.840.114350.1.13.0.1.7"
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
ICD9 = "http://hl7.org/fhir/sid/icd-9-cm"
IMO = "urn:oid:2.16.840.1.113883.3.247.1.1"
CVX = "http://hl7.org/fhir/sid/cvx"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
CPT = "http://www.ama-assn.org/go/cpt"
UCUM = "http://unitsofmeasure.org"

ENCOUNTER_CSN_SYSTEM = f"{SITE}.3.698084.8"
FLOWSHEET_ROW = f"{SITE}.2.707679"
FLOWSHEET_ID = "http://open.epic.com/FHIR/StructureDefinition/observation-flowsheet-id"
FLOWSHEET_LOINC_OID = "urn:oid:1.2.246.537.6.96"
LAB_COMPONENT = f"{SITE}.2.768282"
LAB_CATEGORY = f"{SITE}.10.798268.30"
PROCEDURE_ORDER = f"{SITE}.2.696580"
ORDER_ID = f"{SITE}.2.798268"

ORGANIZATION_REF = "Organization/enRyWnSP963FYDpoks4NHOA3"
ORGANIZATION_NAME = "Epic Hospital System"
FACILITY = ("eQSOrLdbVrMRc68KBcTBG4A3", "Epic Hospital System")
RECORDED_BY = ("exfo6E4EXjWsnhA1OGVElgw3", "User Epic")


@dataclass(frozen=True, eq=False)  # singletons: identity hash keeps cache lookups cheap
class Practitioner:
    id: str
    display: str
    specialty: str
    specialty_code: str
    taxonomy: str
    taxonomy_display: str


PRACTITIONERS: tuple[Practitioner, ...] = (
    Practitioner(
        "eM5CWtq15N0WJeuCet5bJlQ3",
        "Physician Family Medicine, MD",
        "Family Medicine",
        "9",
        "207Q00000X",
        "Family Medicine Physician",
    ),
    Practitioner(
        "e3MBXCOmcoLKl7ayLD51AWA3",
        "Provider Fhirtwo, MD",
        "Family Medicine",
        "9",
        "207Q00000X",
        "Family Medicine Physician",
    ),
    Practitioner(
        "eOyFJ.PiGBcbhr3T1oyJZ1A3", "Physician Surgery, MD", "General Surgery", "11", "208600000X", "Surgery Physician"
    ),
    Practitioner(
        "eKq2HS3tVQrJbVm.Dq6kZeg3",
        "Physician Internal Medicine, MD",
        "Internal Medicine",
        "12",
        "207R00000X",
        "Internal Medicine Physician",
    ),
    Practitioner(
        "eWa0m3bTnSlTtgTTBD5nJ1w3",
        "Physician Cardiology, MD",
        "Cardiology",
        "4",
        "207RC0000X",
        "Cardiovascular Disease Physician",
    ),
    Practitioner(
        "eGrcT4D8XxYlA6bTzpBbTJg3",
        "Physician Emergency, MD",
        "Emergency Medicine",
        "7",
        "207P00000X",
        "Emergency Medicine Physician",
    ),
    Practitioner(
        "eBv1xlWdkdE4vPnkzMnWqtw3", "Physician Pediatrics, MD", "Pediatrics", "16", "208000000X", "Pediatrics Physician"
    ),
    Practitioner(
        "ePf2lq4S3YrNdWxqkuK8u.w3",
        "Nurse Practitioner Family, NP",
        "Family Medicine",
        "9",
        "363LF0000X",
        "Family Nurse Practitioner",
    ),
)


PEDIATRICIAN = PRACTITIONERS[6]
PRIMARY_CARE = tuple(PRACTITIONERS[i] for i in (0, 1, 3, 7))


@dataclass(frozen=True, eq=False)  # singletons: identity hash keeps cache lookups cheap
class EncounterKind:
    name: str  # display used in references (Encounter "display")
    type_code: str
    category_code: str
    category: str
    class_system: str
    class_code: str
    class_display: str
    location: tuple[str, str]
    hours: float  # typical length
    practitioners: tuple[int, ...]  # indexes into PRACTITIONERS
    weight: int


_ACT = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
_EPIC_CLASS = "urn:oid:1.2.840.114350.1.72.1.7.7.10.696784.13260"

ENCOUNTER_KINDS: tuple[EncounterKind, ...] = (
    EncounterKind(
        "Office Visit",
        "101",
        "50",
        "Appointment",
        _ACT,
        "AMB",
        "Ambulatory",
        ("eXn64I93.2Z3Fm.pUq9W.hQ3", "EMC Family Medicine"),
        0.5,
        (0, 1, 3, 7),
        50,
    ),
    EncounterKind(
        "Telephone",
        "70",
        "50",
        "Appointment",
        _ACT,
        "VR",
        "Virtual",
        ("eXn64I93.2Z3Fm.pUq9W.hQ3", "EMC Family Medicine"),
        0.2,
        (0, 1, 7),
        10,
    ),
    EncounterKind(
        "Orders Only",
        "111",
        "50",
        "Appointment",
        _ACT,
        "AMB",
        "Ambulatory",
        ("e1xGl2pNpDFc1oTn7yuKwWw3", "EMC Laboratory"),
        0.1,
        (0, 3),
        10,
    ),
    EncounterKind(
        "Hospital Encounter",
        "3",
        "3",
        "Hospital Encounter",
        _ACT,
        "IMP",
        "inpatient encounter",
        ("eAdG4FgrkTtIpP06Dd1yHHA3", "EMH Medical Surgical Unit"),
        72.0,
        (3, 4),
        8,
    ),
    EncounterKind(
        "Emergency",
        "105",
        "3",
        "Hospital Encounter",
        _ACT,
        "EMER",
        "emergency",
        ("eZpNwp6FXI3nZTc8GB5pBOg3", "EMH Emergency Department"),
        5.0,
        (5,),
        10,
    ),
    EncounterKind(
        "Surgery Admit",
        "108",
        "3",
        "Hospital Encounter",
        _ACT,
        "IMP",
        "inpatient encounter",
        ("eih1L3clnoL-Odea34LokKYlHPndLwGjYudOa4y6QHvk3", "EMH Main Operating Room"),
        6.0,
        (2,),
        4,
    ),
    EncounterKind(
        "Cardiology Visit",
        "101",
        "50",
        "Appointment",
        _ACT,
        "AMB",
        "Ambulatory",
        ("eJvU8ecA6sVvLh.KgnC2Tqw3", "EMC Cardiology"),
        0.75,
        (4,),
        8,
    ),
)
# Reasons for visit: (Epic reason id, text, SNOMED code, SNOMED display).
VISIT_REASONS: tuple[tuple[str, str, str, str], ...] = (
    ("1", "Follow-up", "390906007", "Follow-up encounter (procedure)"),
    ("2", "Cough", "49727002", "Cough (finding)"),
    ("3", "Annual Exam", "185349003", "Encounter for check up (procedure)"),
    ("4", "Chest Pain", "29857009", "Chest pain (finding)"),
    ("5", "Abdominal Pain", "21522001", "Abdominal pain (finding)"),
    ("6", "Headache", "25064002", "Headache (finding)"),
    ("7", "Back Pain", "161891005", "Backache (finding)"),
    ("8", "Medication Refill", "182836005", "Review of medication (procedure)"),
    ("9", "Fever", "386661006", "Fever (finding)"),
)
VISIT_REASON_SYSTEM = f"{SITE}.10.728286.100"

ADMIT_SOURCE_SYSTEM = f"{SITE}.10.698084.10310"
ADMIT_SOURCES = (("1", "Home/Self"), ("2", "Physician Referral"), ("4", "Transfer from a Hospital"))
EMERGENCY_ADMIT = ("7", "Emergency Room")
DISCHARGE_DISPOSITION_SYSTEM = f"{SITE}.10.698084.18888"
DISCHARGE_DISPOSITIONS = (
    ("1", "Home or Self Care"),
    ("1", "Home or Self Care"),
    ("6", "Home-Health Care Svc"),
    ("3", "Skilled Nursing Facility"),
)

# A hospital encounter that has not happened yet carries Epic's own patient class (as in the sandbox capture).
PREADMISSION_CLASS = (_EPIC_CLASS, "2", "Preadmission")
PEDIATRIC_OFFICE = ("eRk3C1XwV0j9X7n3aGHjg0Q3", "EMC Pediatrics")

# ---------------------------------------------------------------- vital signs (flowsheet rows)


@dataclass(frozen=True, eq=False)  # singletons: identity hash keeps cache lookups cheap
class Vital:
    key: str
    text: str
    row: str  # flowsheet row id
    flowsheet_id: str
    codings: tuple[tuple[str, str, str | None], ...]  # (system, code, display) in Epic's order
    unit: str


def _vital_codings(
    row: str, text: str, fsid: str, loinc_mapped: tuple[str, ...], loinc: tuple[tuple[str, str], ...]
) -> tuple[tuple[str, str, str | None], ...]:
    head: list[tuple[str, str, str | None]] = [(FLOWSHEET_ROW, row, text), (FLOWSHEET_ID, fsid, text)]
    head += [(FLOWSHEET_LOINC_OID, code, None) for code in loinc_mapped]
    return (*head, *((LOINC, code, display) for code, display in loinc))


_VS_PANEL = ("8716-3", "Vital signs")
VITALS: dict[str, Vital] = {
    vital.key: vital
    for vital in (
        Vital(
            "bp",
            "BP",
            "5",
            "tBdNYepLeojPG60x7nUx9kQ0",
            _vital_codings(
                "5",
                "BP",
                "tBdNYepLeojPG60x7nUx9kQ0",
                ("8462-4", "8480-6"),
                (
                    ("55284-4", "Blood pressure systolic and diastolic"),
                    ("85354-9", "Blood pressure panel with all children optional"),
                    _VS_PANEL,
                ),
            ),
            "mm[Hg]",
        ),
        Vital(
            "temp",
            "Temp",
            "6",
            "tvdinindxnlKvaoAecyilRA0",
            _vital_codings(
                "6", "Temp", "tvdinindxnlKvaoAecyilRA0", ("8310-5",), (("8310-5", "Body temperature"), _VS_PANEL)
            ),
            "Cel",
        ),
        Vital(
            "pulse",
            "Pulse",
            "8",
            "t0nle2B9NVDaJJUDo0FtQrA0",
            _vital_codings(
                "8", "Pulse", "t0nle2B9NVDaJJUDo0FtQrA0", ("8867-4",), (_VS_PANEL, ("8867-4", "Heart rate"))
            ),
            "/min",
        ),
        Vital(
            "resp",
            "Resp",
            "9",
            "tSg0Q2yUp9XiUJrbCtOQbFw0",
            _vital_codings(
                "9", "Resp", "tSg0Q2yUp9XiUJrbCtOQbFw0", ("9279-1",), (("9279-1", "Respiratory rate"), _VS_PANEL)
            ),
            "/min",
        ),
        Vital(
            "spo2",
            "SpO2",
            "10",
            "tLd0eRwVYAH3QB9Fv5E7c0Q0",
            _vital_codings(
                "10",
                "SpO2",
                "tLd0eRwVYAH3QB9Fv5E7c0Q0",
                ("59408-5",),
                (
                    ("59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry"),
                    ("2708-6", "Oxygen saturation in Arterial blood"),
                    _VS_PANEL,
                ),
            ),
            "%",
        ),
        Vital(
            "height",
            "Height",
            "11",
            "tWa7.AY6Kd2qO8EvD4vqKNg0",
            _vital_codings(
                "11", "Height", "tWa7.AY6Kd2qO8EvD4vqKNg0", ("8302-2",), (("8302-2", "Body height"), _VS_PANEL)
            ),
            "cm",
        ),
        Vital(
            "weight",
            "Weight",
            "14",
            "tX9rE8TgbEPXWpgEX7kuaoQ0",
            _vital_codings(
                "14",
                "Weight",
                "tX9rE8TgbEPXWpgEX7kuaoQ0",
                ("29463-7",),
                (("29463-7", "Body weight"), ("3141-9", "Body weight Measured"), _VS_PANEL),
            ),
            "kg",
        ),
        Vital(
            "bmi",
            "BMI",
            "301070",
            "tn3AVlVzkn5z0cOAz6vNPyw0",
            _vital_codings(
                "301070",
                "BMI",
                "tn3AVlVzkn5z0cOAz6vNPyw0",
                ("39156-5",),
                (_VS_PANEL, ("39156-5", "Body mass index (BMI) [Ratio]")),
            ),
            "kg/m2",
        ),
    )
}

# ---------------------------------------------------------------- laboratory


@dataclass(frozen=True, eq=False)  # singletons: identity hash keeps cache lookups cheap
class Analyte:
    component: str  # Epic component id
    text: str
    loinc: str | None
    loinc_display: str
    unit: str | None  # None: Epic sends valueQuantity without a unit (as for HbA1c in the sandbox)
    low: float | None
    high: float | None
    mean: float
    spread: float
    decimals: int
    strings: tuple[str, ...] = ()  # non-empty: a valueString result drawn from these (first = normal)
    # Results below this are reported as "<limit" (valueQuantity.comparator), as labs do for assays
    # with a reporting floor.
    reporting_limit: float | None = None


@dataclass(frozen=True, eq=False)  # singletons: identity hash keeps cache lookups cheap
class Panel:
    code: str  # Epic procedure (order) id
    snomed: str | None
    text: str
    analytes: tuple[Analyte, ...]
    weight: int


PANELS: tuple[Panel, ...] = (
    Panel(
        "1696",
        "9564003",
        "CBC and differential",
        (
            Analyte(
                "1558000",
                "WBC",
                "6690-2",
                "Leukocytes [#/volume] in Blood by Automated count",
                "10*3/uL",
                4.0,
                11.0,
                7.2,
                2.2,
                1,
            ),
            Analyte(
                "1558001",
                "RBC",
                "789-8",
                "Erythrocytes [#/volume] in Blood by Automated count",
                "10*6/uL",
                4.2,
                5.9,
                4.8,
                0.5,
                2,
            ),
            Analyte(
                "1558002", "Hemoglobin", "718-7", "Hemoglobin [Mass/volume] in Blood", "g/dL", 12.0, 17.5, 14.1, 1.5, 1
            ),
            Analyte(
                "1558003",
                "Hematocrit",
                "4544-3",
                "Hematocrit [Volume Fraction] of Blood by Automated count",
                "%",
                36.0,
                52.0,
                42.0,
                4.0,
                1,
            ),
            Analyte(
                "1558004",
                "Platelets",
                "777-3",
                "Platelets [#/volume] in Blood by Automated count",
                "10*3/uL",
                150.0,
                400.0,
                260.0,
                70.0,
                0,
            ),
        ),
        30,
    ),
    Panel(
        "1697",
        "166312007",
        "Basic metabolic panel",
        (
            Analyte(
                "1558010",
                "Sodium",
                "2951-2",
                "Sodium [Moles/volume] in Serum or Plasma",
                "mmol/L",
                135.0,
                145.0,
                139.5,
                3.0,
                0,
            ),
            Analyte(
                "1558011",
                "Potassium",
                "2823-3",
                "Potassium [Moles/volume] in Serum or Plasma",
                "mmol/L",
                3.5,
                5.1,
                4.2,
                0.45,
                1,
            ),
            Analyte(
                "1558012",
                "Chloride",
                "2075-0",
                "Chloride [Moles/volume] in Serum or Plasma",
                "mmol/L",
                98.0,
                107.0,
                102.0,
                3.0,
                0,
            ),
            Analyte(
                "1558013",
                "CO2",
                "2028-9",
                "Carbon dioxide, total [Moles/volume] in Serum or Plasma",
                "mmol/L",
                22.0,
                29.0,
                25.5,
                2.2,
                0,
            ),
            Analyte(
                "1558014",
                "BUN",
                "3094-0",
                "Urea nitrogen [Mass/volume] in Serum or Plasma",
                "mg/dL",
                7.0,
                20.0,
                14.0,
                5.0,
                0,
            ),
            Analyte(
                "1558015",
                "Creatinine",
                "2160-0",
                "Creatinine [Mass/volume] in Serum or Plasma",
                "mg/dL",
                0.6,
                1.3,
                0.95,
                0.25,
                2,
            ),
            Analyte(
                "1558016",
                "Glucose",
                "2345-7",
                "Glucose [Mass/volume] in Serum or Plasma",
                "mg/dL",
                70.0,
                99.0,
                98.0,
                22.0,
                0,
            ),
            Analyte(
                "1558017",
                "Calcium",
                "17861-6",
                "Calcium [Mass/volume] in Serum or Plasma",
                "mg/dL",
                8.5,
                10.5,
                9.4,
                0.5,
                1,
            ),
        ),
        25,
    ),
    Panel(
        "1698",
        "43396009",
        "Hemoglobin A1c",
        (
            Analyte(
                "1558024",
                "Hemoglobin A1C",
                "4548-4",
                "Hemoglobin A1c/Hemoglobin.total in Blood",
                None,
                None,
                5.6,
                5.9,
                0.9,
                1,
            ),
        ),
        12,
    ),
    Panel(
        "1699",
        "16254007",
        "Lipid panel",
        (
            Analyte(
                "1558030",
                "Cholesterol",
                "2093-3",
                "Cholesterol [Mass/volume] in Serum or Plasma",
                "mg/dL",
                None,
                200.0,
                190.0,
                35.0,
                0,
            ),
            Analyte(
                "1558031",
                "Triglycerides",
                "2571-8",
                "Triglyceride [Mass/volume] in Serum or Plasma",
                "mg/dL",
                None,
                150.0,
                140.0,
                60.0,
                0,
            ),
            Analyte(
                "1558032",
                "HDL",
                "2085-9",
                "Cholesterol in HDL [Mass/volume] in Serum or Plasma",
                "mg/dL",
                40.0,
                None,
                52.0,
                12.0,
                0,
            ),
            Analyte(
                "1558033",
                "LDL Calculated",
                "13457-7",
                "Cholesterol in LDL [Mass/volume] in Serum or Plasma by calculation",
                "mg/dL",
                None,
                100.0,
                112.0,
                30.0,
                0,
            ),
        ),
        15,
    ),
    Panel(
        "1700",
        "27171005",
        "Urinalysis",
        (
            Analyte(
                "1558040",
                "Color, UA",
                "5778-6",
                "Color of Urine",
                None,
                None,
                None,
                0,
                0,
                0,
                ("Yellow", "Straw", "Amber", "Dark Yellow"),
            ),
            Analyte(
                "1558041",
                "Clarity, UA",
                "5767-9",
                "Appearance of Urine",
                None,
                None,
                None,
                0,
                0,
                0,
                ("Clear", "Slightly Cloudy", "Cloudy"),
            ),
            Analyte(
                "1558042",
                "Specific Gravity, UA",
                "5811-5",
                "Specific gravity of Urine by Test strip",
                None,
                1.005,
                1.030,
                1.018,
                0.006,
                3,
            ),
            Analyte(
                "1558043",
                "Protein, UA",
                "2888-6",
                "Protein [Mass/volume] in Urine",
                None,
                None,
                None,
                0,
                0,
                0,
                ("Negative", "Trace", "1+", "2+"),
            ),
            Analyte(
                "1558044",
                "Nitrite, UA",
                "5802-4",
                "Nitrite [Presence] in Urine by Test strip",
                None,
                None,
                None,
                0,
                0,
                0,
                ("Negative", "Positive"),
            ),
            # Epic components without a LOINC mapping exist; code.coding then holds only the Epic code.
            Analyte(
                "1558045",
                "Urine Comment",
                None,
                "",
                None,
                None,
                None,
                0,
                0,
                0,
                ("No further testing indicated", "Reflexed to culture"),
            ),
        ),
        10,
    ),
    Panel(
        "1701",
        "61167004",
        "TSH",
        (
            Analyte(
                "1558050",
                "TSH",
                "3016-3",
                "Thyrotropin [Units/volume] in Serum or Plasma",
                "mIU/L",
                0.4,
                4.0,
                2.1,
                1.1,
                2,
                reporting_limit=0.3,
            ),
        ),
        8,
    ),
)

HBA1C_PANEL = next(panel for panel in PANELS if panel.text == "Hemoglobin A1c")


# ---------------------------------------------------------------- conditions


@dataclass(frozen=True, eq=False)  # singletons: identity hash keeps cache lookups cheap
class ConditionCode:
    text: str
    icd10: tuple[str, str]
    snomed: tuple[str, str]
    icd9: tuple[str, str]
    imo: tuple[str, str]
    chronic: bool


CONDITIONS: tuple[ConditionCode, ...] = (
    ConditionCode(
        "Essential hypertension",
        ("I10", "Essential (primary) hypertension"),
        ("59621000", "Essential hypertension (disorder)"),
        ("401.9", "Unspecified essential hypertension"),
        ("26771", "Essential hypertension"),
        True,
    ),
    ConditionCode(
        "Type 2 diabetes mellitus without complication",
        ("E11.9", "Type 2 diabetes mellitus without complications"),
        ("44054006", "Diabetes mellitus type 2 (disorder)"),
        ("250.00", "Diabetes mellitus without mention of complication, type II"),
        ("33464", "Type 2 diabetes mellitus without complication"),
        True,
    ),
    ConditionCode(
        "Hyperlipidemia",
        ("E78.5", "Hyperlipidemia, unspecified"),
        ("55822004", "Hyperlipidemia (disorder)"),
        ("272.4", "Other and unspecified hyperlipidemia"),
        ("14680", "Hyperlipidemia"),
        True,
    ),
    ConditionCode(
        "Chronic cough",
        ("R05", "Cough"),
        ("68154008", "Chronic Cough"),
        ("786.2", "Chronic cough"),
        ("41151", "Chronic cough"),
        True,
    ),
    ConditionCode(
        "Asthma",
        ("J45.909", "Unspecified asthma, uncomplicated"),
        ("195967001", "Asthma (disorder)"),
        ("493.90", "Asthma, unspecified type, unspecified"),
        ("10315", "Asthma"),
        True,
    ),
    ConditionCode(
        "Major depressive disorder",
        ("F32.9", "Major depressive disorder, single episode, unspecified"),
        ("370143000", "Major depressive disorder (disorder)"),
        ("311", "Depressive disorder, not elsewhere classified"),
        ("32467", "Depression"),
        True,
    ),
    ConditionCode(
        "Obesity",
        ("E66.9", "Obesity, unspecified"),
        ("414916001", "Obesity (disorder)"),
        ("278.00", "Obesity, unspecified"),
        ("20734", "Obesity"),
        True,
    ),
    ConditionCode(
        "Hypothyroidism",
        ("E03.9", "Hypothyroidism, unspecified"),
        ("40930008", "Hypothyroidism (disorder)"),
        ("244.9", "Unspecified acquired hypothyroidism"),
        ("17424", "Hypothyroidism"),
        True,
    ),
    ConditionCode(
        "Gastroesophageal reflux disease",
        ("K21.9", "Gastro-esophageal reflux disease without esophagitis"),
        ("235595009", "Gastroesophageal reflux disease (disorder)"),
        ("530.81", "Esophageal reflux"),
        ("33025", "GERD"),
        True,
    ),
    ConditionCode(
        "Osteoarthritis of knee",
        ("M17.9", "Osteoarthritis of knee, unspecified"),
        ("239873007", "Osteoarthritis of knee (disorder)"),
        ("715.96", "Osteoarthrosis, lower leg"),
        ("21730", "Osteoarthritis of knee"),
        True,
    ),
    ConditionCode(
        "Stomach pain",
        ("R10.9", "Unspecified abdominal pain"),
        ("271681002", "Stomach ache (finding)"),
        ("536.8", "Dyspepsia and other specified disorders of function of stomach"),
        ("45111", "Stomach pain"),
        False,
    ),
    ConditionCode(
        "Acute upper respiratory infection",
        ("J06.9", "Acute upper respiratory infection, unspecified"),
        ("54150009", "Upper respiratory infection (disorder)"),
        ("465.9", "Acute upper respiratory infections of unspecified site"),
        ("1477", "URI"),
        False,
    ),
    ConditionCode(
        "Urinary tract infection",
        ("N39.0", "Urinary tract infection, site not specified"),
        ("68566005", "Urinary tract infectious disease (disorder)"),
        ("599.0", "Urinary tract infection, site not specified"),
        ("22330", "UTI"),
        False,
    ),
    ConditionCode(
        "Low back pain",
        ("M54.50", "Low back pain, unspecified"),
        ("279039007", "Low back pain (finding)"),
        ("724.2", "Lumbago"),
        ("21101", "Low back pain"),
        False,
    ),
    ConditionCode(
        "Headache",
        ("R51.9", "Headache, unspecified"),
        ("25064002", "Headache (finding)"),
        ("784.0", "Headache"),
        ("9452", "Headache"),
        False,
    ),
    ConditionCode(
        "Chest pain",
        ("R07.9", "Chest pain, unspecified"),
        ("29857009", "Chest pain (finding)"),
        ("786.50", "Chest pain, unspecified"),
        ("33512", "Chest pain"),
        False,
    ),
    ConditionCode(
        "Acute sinusitis",
        ("J01.90", "Acute sinusitis, unspecified"),
        ("15805002", "Acute sinusitis (disorder)"),
        ("461.9", "Acute sinusitis, unspecified"),
        ("19760", "Acute sinusitis"),
        False,
    ),
    ConditionCode(
        "Annual physical exam",
        ("Z00.00", "Encounter for general adult medical examination without abnormal findings"),
        ("185349003", "Encounter for check up (procedure)"),
        ("V70.0", "Routine general medical examination"),
        ("62591", "Annual physical exam"),
        False,
    ),
)
CHRONIC_CONDITIONS = tuple(c for c in CONDITIONS if c.chronic)
ACUTE_CONDITIONS = tuple(c for c in CONDITIONS if not c.chronic)

# ---------------------------------------------------------------- immunizations


@dataclass(frozen=True, eq=False)  # singletons: identity hash keeps cache lookups cheap
class Vaccine:
    cvx: str
    text: str
    manufacturer: str
    dose_ml: float
    min_age: int
    max_age: int


VACCINES: tuple[Vaccine, ...] = (
    Vaccine("20", "DTaP", "GlaxoSmithKline", 0.5, 0, 6),
    Vaccine("08", "Hepatitis B, Pediatric", "Merck & Co., Inc.", 0.5, 0, 18),
    Vaccine("10", "IPV", "Sanofi Pasteur", 0.5, 0, 6),
    Vaccine("03", "MMR", "Merck & Co., Inc.", 0.5, 1, 6),
    Vaccine("21", "Varicella", "Merck & Co., Inc.", 0.5, 1, 12),
    Vaccine("133", "Pneumococcal Conjugate PCV 13", "Pfizer, Inc", 0.5, 0, 5),
    Vaccine("62", "HPV, quadrivalent", "Merck & Co., Inc.", 0.5, 9, 26),
    Vaccine("115", "Tdap", "Sanofi Pasteur", 0.5, 11, 120),
    Vaccine("150", "Influenza, injectable, quadrivalent, preservative free", "Sanofi Pasteur", 0.5, 0, 120),
    Vaccine("158", "Influenza, injectable, quadrivalent", "Seqirus", 0.5, 3, 120),
    Vaccine("208", "COVID-19 (Pfizer), 30 mcg/0.3 mL", "Pfizer, Inc", 0.3, 12, 120),
    Vaccine("207", "COVID-19 (Moderna), 100 mcg/0.5 mL", "Moderna US, Inc.", 0.5, 18, 120),
    Vaccine("187", "Zoster Recombinant", "GlaxoSmithKline", 0.5, 50, 120),
    Vaccine("33", "Pneumococcal Polysaccharide PPV23", "Merck & Co., Inc.", 0.5, 65, 120),
    Vaccine("83", "Hepatitis A, Pediatric", "GlaxoSmithKline", 0.5, 1, 18),
)

# ---------------------------------------------------------------- medications


@dataclass(frozen=True, eq=False)  # singletons: identity hash keeps cache lookups cheap
class Drug:
    epic_id: str
    text: str
    rxnorm: tuple[tuple[str, str], ...]
    dose: float
    dose_unit: str
    form_unit: str  # ordered unit, e.g. tablet
    form_code: str
    sig: str
    frequency: int
    period_unit: str
    route: str
    as_needed: bool


_ORAL = "Oral"
DRUGS: tuple[Drug, ...] = (
    Drug(
        "6918",
        "lisinopril 10 MG tablet",
        (("314076", "lisinopril 10 MG Oral Tablet"), ("29046", "lisinopril")),
        10,
        "mg",
        "tablet",
        "{tbl}",
        "Take 1 tablet (10 mg total) by mouth daily.",
        1,
        "d",
        _ORAL,
        False,
    ),
    Drug(
        "10582",
        "metformin 500 MG tablet",
        (("861007", "metformin hydrochloride 500 MG Oral Tablet"), ("6809", "metformin")),
        500,
        "mg",
        "tablet",
        "{tbl}",
        "Take 1 tablet (500 mg total) by mouth 2 (two) times daily with meals.",
        2,
        "d",
        _ORAL,
        False,
    ),
    Drug(
        "36567",
        "atorvastatin 20 MG tablet",
        (("617310", "atorvastatin 20 MG Oral Tablet"), ("83367", "atorvastatin")),
        20,
        "mg",
        "tablet",
        "{tbl}",
        "Take 1 tablet (20 mg total) by mouth nightly.",
        1,
        "d",
        _ORAL,
        False,
    ),
    Drug(
        "2623",
        "albuterol 90 mcg/actuation inhaler",
        (("745679", "albuterol 0.09 MG/ACTUAT Metered Dose Inhaler"), ("435", "albuterol")),
        2,
        "puff",
        "puff",
        "{puff}",
        "Inhale 2 puffs every 4 (four) hours as needed for wheezing.",
        6,
        "d",
        "Inhalation",
        True,
    ),
    Drug(
        "9042",
        "sertraline 50 MG tablet",
        (("312940", "sertraline 50 MG Oral Tablet"), ("36437", "sertraline")),
        50,
        "mg",
        "tablet",
        "{tbl}",
        "Take 1 tablet (50 mg total) by mouth daily.",
        1,
        "d",
        _ORAL,
        False,
    ),
    Drug(
        "27436",
        "levothyroxine 50 MCG tablet",
        (("966221", "levothyroxine sodium 0.05 MG Oral Tablet"), ("10582", "levothyroxine")),
        50,
        "mcg",
        "tablet",
        "{tbl}",
        "Take 1 tablet (50 mcg total) by mouth daily before breakfast.",
        1,
        "d",
        _ORAL,
        False,
    ),
    Drug(
        "5640",
        "ibuprofen 600 MG tablet",
        (("197806", "ibuprofen 600 MG Oral Tablet"), ("5640", "ibuprofen")),
        600,
        "mg",
        "tablet",
        "{tbl}",
        "Take 1 tablet (600 mg total) by mouth every 6 (six) hours as needed for pain.",
        4,
        "d",
        _ORAL,
        True,
    ),
    Drug(
        "723",
        "amoxicillin 500 MG capsule",
        (("308191", "amoxicillin 500 MG Oral Capsule"), ("723", "amoxicillin")),
        500,
        "mg",
        "capsule",
        "{cap}",
        "Take 1 capsule (500 mg total) by mouth 3 (three) times daily for 10 days.",
        3,
        "d",
        _ORAL,
        False,
    ),
    Drug(
        "40790",
        "omeprazole 20 MG capsule",
        (("197870", "omeprazole 20 MG Delayed Release Oral Capsule"), ("7646", "omeprazole")),
        20,
        "mg",
        "capsule",
        "{cap}",
        "Take 1 capsule (20 mg total) by mouth daily before breakfast.",
        1,
        "d",
        _ORAL,
        False,
    ),
    Drug(
        "17767",
        "amlodipine 5 MG tablet",
        (("197361", "amlodipine 5 MG Oral Tablet"), ("17767", "amlodipine")),
        5,
        "mg",
        "tablet",
        "{tbl}",
        "Take 1 tablet (5 mg total) by mouth daily.",
        1,
        "d",
        _ORAL,
        False,
    ),
)
ROUTES: dict[str, tuple[str, str, str]] = {  # text -> (Epic code, SNOMED code, SNOMED display)
    "Oral": ("15", "26643006", "Oral route (qualifier value)"),
    "Inhalation": ("18", "447694001", "Respiratory tract route (qualifier value)"),
}

# ---------------------------------------------------------------- allergies


@dataclass(frozen=True, eq=False)  # singletons: identity hash keeps cache lookups cheap
class Allergen:
    epic_id: str
    text: str
    category: str
    system: str
    code: str
    display: str
    reactions: tuple[tuple[str, str], ...]  # SNOMED (code, display)


ALLERGENS: tuple[Allergen, ...] = (
    Allergen(
        "8",
        "Penicillins",
        "medication",
        RXNORM,
        "70618",
        "penicillin",
        (("271807003", "Rash"), ("247472004", "Hives"), ("39579001", "Anaphylaxis")),
    ),
    Allergen(
        "41",
        "Sulfa (Sulfonamide Antibiotics)",
        "medication",
        RXNORM,
        "10180",
        "sulfamethoxazole",
        (("271807003", "Rash"), ("418290006", "Itching")),
    ),
    Allergen(
        "1091",
        "Peanut",
        "food",
        SNOMED,
        "256349002",
        "Peanut - dietary (substance)",
        (("39579001", "Anaphylaxis"), ("267038008", "Swelling"), ("247472004", "Hives")),
    ),
    Allergen(
        "1230",
        "Shellfish",
        "food",
        SNOMED,
        "227037002",
        "Fish - dietary (substance)",
        (("247472004", "Hives"), ("422587007", "Nausea")),
    ),
    Allergen(
        "2610",
        "Latex",
        "environment",
        SNOMED,
        "111088007",
        "Latex (substance)",
        (("40275004", "Contact dermatitis"), ("418290006", "Itching")),
    ),
    Allergen(
        "1505", "Codeine", "medication", RXNORM, "2670", "codeine", (("422587007", "Nausea"), ("422400008", "Vomiting"))
    ),
    Allergen(
        "3150",
        "Seasonal Allergies",
        "environment",
        SNOMED,
        "256277009",
        "Grass pollen (substance)",
        (("49727002", "Cough"), ("76067001", "Sneezing")),
    ),
)
NO_KNOWN_ALLERGIES = ("716186003", "No known allergy (situation)")

# ---------------------------------------------------------------- procedures


@dataclass(frozen=True, eq=False)  # singletons: identity hash keeps cache lookups cheap
class ProcedureCode:
    epic_id: str
    text: str
    cpt: str | None
    snomed: str
    snomed_display: str
    minutes: int  # 0: performedDateTime, otherwise performedPeriod of this length


PROCEDURES: tuple[ProcedureCode, ...] = (
    ProcedureCode("3001", "ECG 12 lead", "93000", "268400002", "12 lead electrocardiogram (procedure)", 0),
    ProcedureCode("3002", "XR chest 2 views", "71046", "399208008", "Plain chest X-ray (procedure)", 0),
    ProcedureCode("3003", "Colonoscopy", "45378", "73761001", "Colonoscopy (procedure)", 45),
    ProcedureCode(
        "3004", "Laparoscopic cholecystectomy", "47562", "45595009", "Laparoscopic cholecystectomy (procedure)", 95
    ),
    ProcedureCode(
        "3005", "Venipuncture", "36415", "82078001", "Collection of blood specimen for laboratory (procedure)", 0
    ),
    ProcedureCode("3006", "Depression screening", None, "171207006", "Depression screening (procedure)", 0),
    ProcedureCode("3007", "Echocardiogram complete", "93306", "40701008", "Echocardiography (procedure)", 40),
    ProcedureCode("3008", "Knee arthroscopy", "29881", "76916001", "Arthroscopy of knee joint (procedure)", 70),
)

# ---------------------------------------------------------------- clinical notes


@dataclass(frozen=True, eq=False)  # singletons: identity hash keeps cache lookups cheap
class NoteType:
    code: str
    text: str
    loinc: str
    loinc_display: str


NOTE_TYPES: dict[str, NoteType] = {
    "progress": NoteType("1", "Progress Notes", "11506-3", "Progress note"),
    "consult": NoteType("2", "Consults", "11488-4", "Consult note"),
    "hp": NoteType("4", "H&P", "34117-2", "History and physical note"),
    "discharge": NoteType("5", "Discharge Summary", "18842-5", "Discharge summary"),
    "ed": NoteType("6", "ED Provider Notes", "34111-1", "Emergency department Note"),
    "telephone": NoteType("9", "Telephone Encounter", "34748-4", "Telephone encounter Note"),
    "procedure": NoteType("10", "Procedures", "28570-0", "Procedure note"),
    "instructions": NoteType("11", "Patient Instructions", "69730-0", "Instructions"),
}
NOTES_BY_ENCOUNTER: dict[str, tuple[str, ...]] = {
    "Office Visit": ("progress", "instructions"),
    "Telephone": ("telephone",),
    "Orders Only": (),
    "Hospital Encounter": ("hp", "progress", "consult", "discharge"),
    "Emergency": ("ed",),
    "Surgery Admit": ("hp", "procedure"),
    "Cardiology Visit": ("consult", "progress"),
}
NOTE_SENTENCES: tuple[str, ...] = (
    "Patient reports feeling well overall with no new complaints.",
    "Reviewed medications and allergies with the patient; no changes.",
    "Blood pressure discussed; continue home monitoring and low-sodium diet.",
    "Recommended regular physical activity, 150 minutes per week.",
    "Labs reviewed with the patient and questions answered.",
    "Follow up in 3 months or sooner if symptoms worsen.",
    "Symptoms improved since the last visit; sleep is adequate.",
    "Patient counseled on smoking cessation resources.",
    "No fever, chills, chest pain or shortness of breath reported.",
    "Vaccination history reviewed and updated in the chart.",
    "Discussed return precautions; patient verbalized understanding.",
    "Exam unremarkable apart from findings documented below.",
)

# ---------------------------------------------------------------- people


FEMALE_GIVEN = (
    "Camila",
    "Desiree",
    "Olivia",
    "Emma",
    "Sophia",
    "Ava",
    "Isabella",
    "Mia",
    "Amelia",
    "Harper",
    "Evelyn",
    "Abigail",
    "Emily",
    "Ella",
    "Elizabeth",
    "Sofía",
    "Avery",
    "Scarlett",
    "Grace",
    "Chloe",
    "Zoë",
    "Nguyễn Thị Lan",
    "Aaliyah",
    "Maya",
    "Hannah",
    "Priya",
    "Fatima",
    "Renée",
    "Ingrid",
    "Keiko",
)
MALE_GIVEN = (
    "Jason",
    "Warren",
    "Liam",
    "Noah",
    "Oliver",
    "Elijah",
    "James",
    "William",
    "Benjamin",
    "Lucas",
    "Henry",
    "Theodore",
    "Jack",
    "Levi",
    "Alexander",
    "José",
    "Mateo",
    "Daniel",
    "Michael",
    "Samuel",
    "David",
    "Joseph",
    "Carter",
    "Owen",
    "Wyatt",
    "Ahmed",
    "Raj",
    "Björn",
    "Hiroshi",
    "Kwame",
)
FEMALE_MIDDLE = ("Maria", "Caroline", "Lee", "Ann", "Marie", "Rose", "Grace", "Louise", "Jean", "Lynn")
MALE_MIDDLE = ("James", "Lee", "Michael", "Alan", "Edward", "Ray", "John", "Thomas", "José", "Scott")
FAMILY = (
    "Lopez",
    "Powell",
    "Argonaut",
    "McGinnis",
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Pérez",
    "Thompson",
    "White",
    "Harris",
    "Sánchez",
    "Clark",
    "Ramírez",
    "Nguyen",
    "Patel",
    "Kim",
    "O'Brien",
    "Müller",
    "Okafor",
    "Cohen",
    "Rossi",
    "Ivanova",
    "Tanaka",
)
SUFFIXES = ("Jr.", "III", "Sr.")
STREETS = (
    "W Johnson St",
    "Main St",
    "Oak Ave",
    "Maple Dr",
    "Cedar Ln",
    "Park Blvd",
    "Elm St",
    "Lakeview Rd",
    "Washington Ave",
    "Sunset Blvd",
    "Highland Ave",
    "River Rd",
)
CITIES = (
    ("GARLAND", "DALLAS", "TX", "750"),
    ("MADISON", "DANE", "WI", "537"),
    ("VERONA", "DANE", "WI", "535"),
    ("AUSTIN", "TRAVIS", "TX", "787"),
    ("SPRINGFIELD", "SANGAMON", "IL", "627"),
    ("COLUMBUS", "FRANKLIN", "OH", "432"),
    ("DENVER", "DENVER", "CO", "802"),
    ("PORTLAND", "MULTNOMAH", "OR", "972"),
    ("RALEIGH", "WAKE", "NC", "276"),
    ("PHOENIX", "MARICOPA", "AZ", "850"),
)
AREA_CODES = ("469", "608", "512", "217", "614", "303", "503", "919", "602", "214")
MARITAL = ("Married", "Single", "Divorced", "Widowed", "Life Partner", "Separated", "Unknown")

# (OMB code, display, free text); code None: Epic sends the text only.
RACES: tuple[tuple[str | None, str, str], ...] = (
    ("2106-3", "White", "White"),
    ("2054-5", "Black or African American", "Black or African American"),
    ("2028-9", "Asian", "Asian"),
    ("2131-1", "Other Race", "Other"),
    ("1002-5", "American Indian or Alaska Native", "American Indian or Alaska Native"),
    ("2076-8", "Native Hawaiian or Other Pacific Islander", "Native Hawaiian or Other Pacific Islander"),
    (None, "", "Patient Declined"),
    (None, "", "Unknown"),
)
ETHNICITIES: tuple[tuple[str | None, str, str], ...] = (
    ("2186-5", "Not Hispanic or Latino", "Not Hispanic or Latino"),
    ("2135-2", "Hispanic or Latino", "Hispanic or Latino"),
    (None, "", "Unknown"),
    (None, "", "Patient Declined"),
)
LANGUAGES = (("en", "English"), ("es", "Spanish"), ("vi", "Vietnamese"), ("zh", "Chinese"), ("ar", "Arabic"))
