'use strict';
// The session form in the admin: the Course autocomplete (select2, django/contrib/admin's
// autocomplete.js) asks for the courses of the patient chosen on the page, and a change of
// patient clears a course chosen for the previous one. TreatmentCourseAdmin.get_search_results
// reads the `patient` parameter; the service still refuses a course of another patient.
{
    const $ = django.jQuery;

    $.ajaxPrefilter(function(options) {
        // By now jQuery has turned select2's request parameters into the query string.
        if (typeof options.data !== 'string') {
            return;
        }
        const query = new URLSearchParams(options.data);
        if (query.get('model_name') !== 'treatmentsession' || query.get('field_name') !== 'course') {
            return;
        }
        const patient = document.getElementById('id_patient');
        if (patient && patient.value) {
            query.set('patient', patient.value);
            options.data = query.toString();
        }
    });

    $(function() {
        const course = $('#id_course.admin-autocomplete');
        $('#id_patient').on('change', function() {
            if (course.length && course.val()) {
                course.val(null).trigger('change');
            }
        });
    });
}
