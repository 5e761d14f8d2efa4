"""Streamlit entry of qmsprint: ``streamlit run app.py`` (``qmsprint app`` starts it for you).

Builds the page navigation (``st.navigation([...]).run()``) in :func:`qmsprint.ui.main.main`.
"""

from qmsprint.ui.main import main

main()
