"""The spec's columns and native codes, transcribed from docs/exchange-spec-1.0.md (spec 1.0).

An independent test vector for the contracts: tests check that every name here appears in the
spec text itself, and that the contracts cover every column and map every code listed here.
"""

# The seven sources of spec section 1 (codes of the table "who sends what").
SOURCES = ["reg53", "cd22", "cd29", "cd35", "cd56", "bmo", "rmo"]

A_BRSA = "NUM_DOSSIER;PSEUDO_NIR;PSEUDO_EC;SEXE;DATE_NAIS;CODE_COMMUNE;NIVEAU;DT_OUV_DROIT;DT_FIN_DROIT;MOTIF_FIN;DT_ORIENT;ORIENTATION;REFERENT;DT_CONTRAT;TYPE_CONTRAT;DT_MAJ"
A_ACTIONS = "NUM_PARTICIPATION;PSEUDO_NIR;PSEUDO_EC;CODE_ACTION;LIBELLE_ACTION;FAMILLE;DT_ENTREE;DT_SORTIE;MOTIF_SORTIE;FSE;CODE_OPERATION_FSE"
A_AIDES = "NUM_AIDE;PSEUDO_NIR;PSEUDO_EC;TYPE_AIDE;DT_DECISION;MONTANT"
B_BRSA = "dossier_id, pseudo_nir, pseudo_ec, sexe, annee_mois_naissance, commune_insee, niveau_diplome, date_ouverture, date_cloture, motif_cloture, date_orientation, orientation, organisme_referent, date_contrat, type_contrat, maj"
B_ACTIONS = "participation_id, pseudo_nir, pseudo_ec, action_code, action_libelle, action_famille, date_entree, date_sortie, motif_sortie, cofinancement_fse, operation_fse"
B_AIDES = "aide_id, pseudo_nir, pseudo_ec, type_aide, date_decision, montant"
R_AIDES_FORMATION = "aide_id,pseudo_nir,pseudo_ec,type_aide,date_decision,montant,id_inscription"
R_DECROCHEURS = "signalement_id,pseudo_nir,pseudo_ec,sexe,annee_mois_naissance,commune_insee,date_reperage,plateforme,solution,date_solution"
M1_PARTICIPANTS = "participant_id,pseudo_nir,pseudo_ec,sexe,annee_mois_naissance,commune_insee,niveau_diplome,publics,date_entree,date_sortie,type_sortie,cofinancement_fse,operation_fse"
M1_ETAPES = "etape_id,participant_id,type_etape,date_debut,date_fin"
M1_HEURES = "ligne_id,pseudo_nir,pseudo_ec,marche_id,donneur_ordre,mois,heures"
OPERATIONS = "code_operation;intitule;programme;date_debut;date_fin;cout_total_eligible;montant_fse;dispositif_local"

# Header lists written in one line in the spec, with the separator they are written with.
HEADER_LINES = {
    "A/brsa": (A_BRSA, ";"),
    "A/actions": (A_ACTIONS, ";"),
    "A/aides": (A_AIDES, ";"),
    "B/brsa": (B_BRSA, ", "),
    "B/actions": (B_ACTIONS, ", "),
    "B/aides": (B_AIDES, ", "),
    "R/aides_formation": (R_AIDES_FORMATION, ","),
    "R/decrocheurs": (R_DECROCHEURS, ","),
    "M1/plie_participants": (M1_PARTICIPANTS, ","),
    "M1/plie_etapes": (M1_ETAPES, ","),
    "M1/clause_heures": (M1_HEURES, ","),
    "common/operations_fse": (OPERATIONS, ";"),
}

# Headers the spec lists in prose (each appears in back-quotes in the spec).
LISTED_HEADERS = {
    "C/brsa": [
        "N° dossier",
        "Pseudo NIR",
        "Pseudo état civil",
        "Sexe",
        "Mois de naissance",
        "Commune (code INSEE)",
        "Niveau de formation",
        "Date d'ouverture du droit",
        "Date de fin de droit",
        "Motif de fin",
        "Date d'orientation",
        "Orientation",
        "Référent",
        "Date du contrat",
        "Type de contrat",
        "Dernière mise à jour",
    ],
    "C/actions": [
        "N° participation",
        "Pseudo NIR",
        "Pseudo état civil",
        "Code action",
        "Libellé action",
        "Famille",
        "Date d'entrée",
        "Date de sortie",
        "Motif de sortie",
        "Cofinancement FSE",
        "Opération FSE",
    ],
    "C/aides": [
        "N° aide",
        "Pseudo NIR",
        "Pseudo état civil",
        "Type d'aide",
        "Date de décision",
        "Montant (€)",
    ],
    "M2/plie_participants": [
        "ID participant",
        "Pseudo NIR",
        "Pseudo EC",
        "Sexe",
        "Naissance",
        "Commune",
        "Niveau",
        "Publics",
        "Date d'entrée",
        "Date de sortie",
        "Type de sortie",
        "FSE",
        "Opération FSE",
    ],
    "M2/plie_etapes": ["ID étape", "ID participant", "Type d'étape", "Début", "Fin"],
    "M2/clause_heures": [
        "ID ligne",
        "Pseudo NIR",
        "Pseudo EC",
        "Marché",
        "Donneur d'ordre",
        "Mois",
        "Heures",
    ],
    # JSON paths of the stagiaires example object (spec 3.2).
    "R/stagiaires": [
        "id_inscription",
        "personne.pseudo_nir",
        "personne.pseudo_ec",
        "personne.sexe",
        "personne.naissance",
        "personne.commune",
        "personne.niveau",
        "personne.statut_entree",
        "dispositif",
        "formacode",
        "organisme_siret",
        "date_entree",
        "date_fin_prevue",
        "date_sortie",
        "resultat",
        "financements",
        "maj",
    ],
}

NIVEAU_2019 = ["infra3", "3", "4", "5", "6", "7", "8"]
PLIE_SORTIES = [
    "CDI",
    "CDD_6M_PLUS",
    "INTERIM_6M_PLUS",
    "CREATION_ENTREPRISE",
    "FORMATION_QUALIFIANTE",
    "ABANDON",
    "DEMENAGEMENT",
    "SANTE",
    "AUTRE",
]
PUBLICS = ["BRSA", "DELD", "JEUNE_SANS_QUALIF", "TH", "QPV", "SENIOR"]
ETAPES = [
    "FORMATION",
    "EMPLOI_IAE",
    "CONTRAT_AIDE",
    "CDD_MOINS_6M",
    "IMMERSION",
    "ACCOMPAGNEMENT_SOCIAL",
    "CLAUSE_SOCIALE",
]

# contract -> native column -> every native code the spec lists for it ("" = empty means unknown).
NATIVE_CODES = {
    "A/brsa": {
        "SEXE": ["M", "F"],
        "NIVEAU": ["VI", "V BIS", "V", "IV", "III", "II", "I"],
        "MOTIF_FIN": ["1", "2", "3", "4", "9"],
        "ORIENTATION": ["P", "SP", "S"],
        "REFERENT": ["PE", "CD", "CCAS", "ML", "ASSO", "CAP"],
        "TYPE_CONTRAT": ["CER", "PPAE"],
    },
    "A/actions": {
        "FAMILLE": ["AG", "ACI", "REMOB", "MOB", "SANTE", "PREQUALIF", "SOCIAL"],
        "MOTIF_SORTIE": [
            "10",
            "11",
            "12",
            "13",
            "20",
            "21",
            "22",
            "30",
            "31",
            "40",
            "50",
            "51",
            "52",
            "53",
            "99",
        ],
        "FSE": ["O", "N"],
    },
    "A/aides": {"TYPE_AIDE": ["FAJ", "MOBILITE", "APRE", "AUTRE"]},
    "B/brsa": {
        "sexe": ["1", "2"],
        "niveau_diplome": NIVEAU_2019,
        "motif_cloture": ["ressources", "demenagement", "radiation", "deces", "autre"],
        "orientation": ["professionnelle", "socio-professionnelle", "sociale"],
        "organisme_referent": [
            "france_travail",
            "departement",
            "ccas",
            "mission_locale",
            "association",
            "cap_emploi",
        ],
        "type_contrat": ["cer", "ppae"],
    },
    "B/actions": {
        "action_famille": [
            "accompagnement_global",
            "aci",
            "remobilisation",
            "mobilite",
            "sante",
            "prequalification",
            "social",
        ],
        "motif_sortie": [
            "cdi",
            "cdd_6m_plus",
            "interim_6m_plus",
            "creation_entreprise",
            "cdd_moins_6m",
            "contrat_aide",
            "iae",
            "formation_qualifiante",
            "formation_non_qualifiante",
            "autre_action",
            "abandon",
            "demenagement",
            "sante",
            "fin_droits",
            "autre",
        ],
        "cofinancement_fse": ["true", "false"],
    },
    "B/aides": {"type_aide": ["faj", "mobilite", "apre", "autre"]},
    "C/brsa": {
        "Sexe": ["Homme", "Femme"],
        "Niveau de formation": [
            "Sans diplôme ou brevet",
            "CAP/BEP",
            "Baccalauréat",
            "Bac+2",
            "Bac+3/4",
            "Bac+5 et plus",
            "Non renseigné",
        ],
        "Motif de fin": ["Ressources", "Déménagement", "Radiation", "Décès", "Autre"],
        "Orientation": ["Professionnelle", "Socio-professionnelle", "Sociale"],
        "Référent": [
            "France Travail",
            "Département",
            "CCAS",
            "Mission locale",
            "Association",
            "Cap emploi",
        ],
        "Type de contrat": ["CER", "PPAE"],
    },
    "C/actions": {
        "Famille": [
            "Accompagnement global",
            "ACI",
            "Remobilisation",
            "Mobilité",
            "Santé",
            "Pré-qualification",
            "Accompagnement social",
        ],
        "Motif de sortie": [
            "CDI",
            "CDD 6 mois et plus",
            "Intérim 6 mois et plus",
            "Création d'entreprise",
            "CDD moins de 6 mois",
            "Contrat aidé",
            "Emploi IAE",
            "Formation qualifiante",
            "Formation non qualifiante",
            "Autre action",
            "Abandon",
            "Déménagement",
            "Santé",
            "Fin de droits",
            "Autre",
        ],
        "Cofinancement FSE": ["Oui", "Non"],
    },
    "C/aides": {"Type d'aide": ["FAJ", "Mobilité", "APRE", "Autre"]},
    "R/stagiaires": {
        "dispositif": [
            "PREPA_AVENIR",
            "PREPA_PROJET",
            "PREPA_CLES",
            "QUALIF_EMPLOI_PROGRAMME",
            "QUALIF_EMPLOI_INDIVIDUEL",
        ],
        "personne.niveau": NIVEAU_2019,
        "personne.statut_entree": ["DE", "DELD", "BRSA", "JEUNE", "SALARIE", "AUTRE"],
        "resultat": ["CERTIF_TOTALE", "CERTIF_PARTIELLE", "ECHEC", "ABANDON"],
        "financements.financeur": ["REGION", "PRIC", "FSE", "FRANCE_TRAVAIL", "AUTRE"],
    },
    "R/aides_formation": {"type_aide": ["AIF_QUALIF", "REMUNERATION_STAGIAIRE", "AIDE_PREPA"]},
    "R/decrocheurs": {
        "solution": [
            "retour_formation_initiale",
            "formation_professionnelle",
            "service_civique",
            "emploi",
            "accompagnement_mission_locale",
            "aucune",
        ],
    },
    "M1/plie_participants": {
        "sexe": ["1", "2"],
        "niveau_diplome": NIVEAU_2019,
        "publics": PUBLICS,
        "type_sortie": PLIE_SORTIES,
        "cofinancement_fse": ["1", "0"],
    },
    "M1/plie_etapes": {"type_etape": ETAPES},
    "M2/plie_participants": {
        "Sexe": ["H", "F"],
        "Niveau": NIVEAU_2019,
        "Publics": PUBLICS,
        "Type de sortie": PLIE_SORTIES,
        "FSE": ["Oui", "Non"],
    },
    "M2/plie_etapes": {"Type d'étape": ETAPES},
    "common/operations_fse": {
        "programme": [
            "PO_FEDER_FSE_BRETAGNE_2014_2020",
            "PON_FSE_2014_2020",
            "PN_FSE_PLUS_2021_2027",
            "PR_FEDER_FSE_PLUS_BRETAGNE_2021_2027",
        ],
    },
}

# The diploma nomenclatures that must land as one (2019): native code -> expected shared code.
NIVEAU_1969_TO_2019 = {
    "VI": "infra3",
    "V BIS": "infra3",
    "V": "3",
    "IV": "4",
    "III": "5",
    "II": "6",
    "I": "7",
}
# The four ways of writing an RSA orientation must land as one.
ORIENTATIONS = {
    "A/brsa": {"P": "PROFESSIONNELLE", "SP": "SOCIO_PROFESSIONNELLE", "S": "SOCIALE"},
    "B/brsa": {
        "professionnelle": "PROFESSIONNELLE",
        "socio-professionnelle": "SOCIO_PROFESSIONNELLE",
        "sociale": "SOCIALE",
    },
    "C/brsa": {
        "Professionnelle": "PROFESSIONNELLE",
        "Socio-professionnelle": "SOCIO_PROFESSIONNELLE",
        "Sociale": "SOCIALE",
    },
}
