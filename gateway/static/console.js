// The console's only script (progressive enhancement; every page works without it):
// ask before a button marked data-confirm submits its form; a select marked data-kinds offers, in
// the select it names, only the options of its choice (a department's kinds of record).
document.addEventListener("submit", function (event) {
  var button = event.submitter;
  var question = button && button.getAttribute("data-confirm");
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});

function followChoice(select) {
  var kinds = document.getElementById(select.getAttribute("data-kinds"));
  if (!kinds) return;
  var first = null;
  kinds.querySelectorAll("optgroup, option").forEach(function (node) {
    var mine = node.getAttribute("data-department") === select.value;
    node.hidden = !mine;
    node.disabled = !mine;
    if (mine && node.tagName === "OPTION" && first === null) first = node;
  });
  if (first && kinds.selectedOptions[0] && kinds.selectedOptions[0].disabled) first.selected = true;
}
document.addEventListener("change", function (event) {
  if (event.target.matches && event.target.matches("select[data-kinds]")) followChoice(event.target);
});
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("select[data-kinds]").forEach(followChoice);
});
