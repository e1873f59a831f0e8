"""Exports of a bank built from the new sources: they carry the attribution the licences ask for, link the
situation nodes, and conform to the SHACL shapes (norms judged in a situation need no setting)."""

from __future__ import annotations

import io
import json

import rdflib
from pyshacl import validate
from rdflib.namespace import RDF

from ingest.sources.ethics import Ethics
from ingest.sources.moral_stories import MoralStories
from ingest.sources.privacylens import PrivacyLens
from ingest.sources.social_chem import SocialChem
from ingest.sources.udhr import Udhr
from ingest.sources.valueprism import ValuePrism
from normgraph import ontology
from normgraph.situations import situation_id
from normgraph.store import rdf_mapping as m

from .conftest import FIXTURES

DCT = rdflib.Namespace("http://purl.org/dc/terms/")
NG = rdflib.Namespace(ontology.NG)


def build(store, tmp_path):
    r = tmp_path / "r.jsonl"
    SocialChem().load(FIXTURES / "social_chem_sample.tsv", store, rejects_path=r, progress=False)
    ValuePrism().load(FIXTURES / "valueprism_sample.csv", store, rejects_path=r, progress=False)
    MoralStories().load(FIXTURES / "moral_stories_sample.jsonl", store, rejects_path=r, progress=False)
    ethics = tmp_path / "deontology_train.csv"
    ethics.write_text("label,scenario,excuse\n1,Could you feed the cat?,But the cat was just fed.\n", encoding="utf-8")
    Ethics().load(ethics, store, rejects_path=r, progress=False)
    cm = tmp_path / "cm_test.csv"
    cm.write_text("label,input,is_short,edited\n1,I kicked the dog.,True,False\n", encoding="utf-8")
    Ethics().load(cm, store, rejects_path=r, progress=False)
    pl = tmp_path / "pl.csv"
    pl.write_text(
        "name,file,data_type,data_subject,data_sender,data_recipient,transmission_principle,source,story,"
        "data_type_concrete\nmain9,main_data.json,a diagnosis,a patient,the nurse,a neighbour,chat in person,"
        "crowdsourcing,\"A nurse meets a neighbour, who asks.\",x\n", encoding="utf-8")
    PrivacyLens().load(pl, store, rejects_path=r, progress=False)
    udhr = tmp_path / "udhr.csv"
    udhr.write_text("article,text_en\n3,\"Everyone has the right to life, liberty and security of person.\"\n",
                    encoding="utf-8")
    Udhr().load(udhr, store, rejects_path=r, progress=False)


def test_turtle_export_credits_every_source_and_conforms(store, tmp_path):
    build(store, tmp_path)
    buf = io.BytesIO()
    store.export("turtle", buf)
    text = buf.getvalue().decode("utf-8")
    header = [ln for ln in text.splitlines() if ln.startswith("#")]
    for needle in ("Social-Chem-101", "Forbes", "creativecommons.org/licenses/by-sa/4.0", "Share-alike",
                   "ValuePrism", "Moral Stories", "ETHICS", "PrivacyLens", "Universal Declaration"):
        assert any(needle in ln for ln in header), needle
    g = rdflib.Graph()
    g.parse(data=text, format="turtle")
    social = [s for s in g.subjects(NG.sourceDataset, rdflib.Literal("social-chem"))]
    assert social and all("Share-alike" in str(g.value(s, DCT.rights)) for s in social)
    assert all(str(g.value(s, DCT.license)) == "CC BY-SA 4.0" for s in social)
    # Statements link their situation node, which is a concept of the situation scheme.
    node = rdflib.URIRef(m.concept_iri(situation_id("lying to my friend about liking her cooking")))
    # Social-Chem 2 rules, Moral Stories a rule and two actions, ValuePrism 4 values/rights/duties.
    assert len(set(g.subjects(NG.inSituation, node))) == 2 + 3 + 4
    # Source columns the schema has no field for travel as ng:sourceFields (JSON), only where a row has some.
    kept = {str(g.value(s, NG.text)): json.loads(str(o)) for s, o in g.subject_objects(NG.sourceFields)}
    assert kept == {"I kicked the dog.": {"is_short": True, "edited": False},
                    "It is unexpected for the nurse to share a diagnosis about a patient with a neighbour (chat in "
                    "person).": {"source": "crowdsourcing"}}
    assert all(o.datatype == RDF.JSON for o in g.objects(None, NG.sourceFields))
    shapes = rdflib.Graph()
    shapes.parse(data=ontology.shapes_text(), format="turtle")
    onto = rdflib.Graph()
    onto.parse(data=ontology.ontology_text(), format="turtle")
    ok, _, report = validate(g, shacl_graph=shapes, ont_graph=onto, inference="none", allow_warnings=True)
    assert ok, report


def test_jsonld_export_carries_attribution_on_source_nodes(store, tmp_path):
    build(store, tmp_path)
    buf = io.BytesIO()
    store.export("jsonld", buf)
    g = rdflib.Graph()
    g.parse(data=buf.getvalue(), format="json-ld")
    rights = {str(o) for o in g.objects(None, DCT.rights)}
    assert any("Social-Chem-101" in r and "Share-alike" in r for r in rights)
    assert any("Moral Stories" in r and "MIT" in r for r in rights)
