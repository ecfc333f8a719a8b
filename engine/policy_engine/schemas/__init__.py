"""Schemas: the JSON Schemas of the JSON the engine prints, shipped as package data."""
