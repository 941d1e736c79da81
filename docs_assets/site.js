// Offline site (tools/build_docs.py): render $...$ / $$...$$ maths with the vendored KaTeX (no CDN).
document.addEventListener("DOMContentLoaded", function () {
  if (!window.renderMathInElement) return;
  renderMathInElement(document.body, {
    delimiters: [
      {left: "$$", right: "$$", display: true}, {left: "\\[", right: "\\]", display: true},
      {left: "$", right: "$", display: false}, {left: "\\(", right: "\\)", display: false}
    ],
    ignoredClasses: ["highlight", "highlight-ipynb", "jp-InputArea-editor", "md-search", "md-header"],
    throwOnError: false
  });
});
