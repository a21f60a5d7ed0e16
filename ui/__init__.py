"""Streamlit-side helpers shared by the pages: cached resources, sidebar settings, figures and views.

Everything here may import streamlit; `fer_core` never does. Pages stay thin by calling into this package.
"""
