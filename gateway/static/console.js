// The console's only script (progressive enhancement; every page works without it):
// ask before a button marked data-confirm submits its form.
document.addEventListener("submit", function (event) {
  var button = event.submitter;
  var question = button && button.getAttribute("data-confirm");
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});
