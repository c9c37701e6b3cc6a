"""Rasa graph component: rule entities (order numbers, amounts, dates, e-mails, phones, company
names)."""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.entities import (
    OTHER_COMPANY,
    OUR_COMPANY,
    PAYMENT_PROVIDER,
    RuleEntities,
    load_company_names,
)

#: Labels customers' messages are tagged with; card numbers and IBANs are only redacted.
ENTITY_LABELS = ("order_number", "amount", "date", "email", "phone", OUR_COMPANY,
                 OTHER_COMPANY, PAYMENT_PROVIDER)


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=False)
class RuleEntityExtractor(GraphComponent):
    """Adds rule entities to each message; needs no training."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        # company_names: a YAML file of our, other companies' and payment services' names
        # (bot/company_names.yml), read when the server starts; none when unset
        return {"spacy_model": "blank:en", "company_names": None}

    def __init__(self, config: dict[str, Any]) -> None:
        path = config.get("company_names")
        try:
            names = load_company_names(path) if path else None
        except ValueError as error:
            raise ValueError(f"{type(self).__name__} in config.yml: {error}") from error
        self._rules = RuleEntities(config.get("spacy_model", "blank:en"), names)

    @classmethod
    def create(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> RuleEntityExtractor:
        return cls({**cls.get_default_config(), **config})

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            text = message.get(TEXT)
            if not text:
                continue
            found = [
                {"entity": s.label, "value": s.value or s.text, "start": s.start, "end": s.end,
                 "extractor": self.__class__.__name__}
                for s in self._rules.find(text) if s.label in ENTITY_LABELS
            ]
            message.set(ENTITIES, [*message.get(ENTITIES, []), *found], add_to_output=True)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data
